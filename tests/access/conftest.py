from .access_fixtures import _one_argon2_hash_per_password, bank  # noqa: F401 - fixtures of every access test
