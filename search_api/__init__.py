"""labourkb web API, pages, query log and engines."""
