"""Django's PostgreSQL backend with a checked connection pool (see ``base``)."""
