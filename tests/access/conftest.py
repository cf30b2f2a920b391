from .access_fixtures import bank  # noqa: F401 - the fixture, shared by every access test module
