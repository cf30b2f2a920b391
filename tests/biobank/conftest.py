from .biobank_fixtures import bank  # noqa: F401 - the fixture, shared by every biobank test module
