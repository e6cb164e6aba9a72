"""The query log and what is built on it, without exposing who asked.

Dependencies point one way, top to bottom:

* ``redact`` — personal numbers out of text, however written; the day-salted visitor and network ids.
* ``employers`` — employer names in queries: extraction, aliases, masking.
* ``records`` — the query-log file's tables and the record shapes written to it.
* ``tagging`` — a logged query's topics and named employers, from the project lexicon.
* ``querylog`` — ``QueryLog`` (each record committed before the answer leaves; signed query ids)
  and ``logged_search`` for routes.
* ``es_sink`` — the same records to Elasticsearch dated indices, spooled during outages.
* ``stats`` — reading the log: feed, aggregates, CSV export, all masked.
* ``alerts`` — employer warnings and district topic spikes raised from the log, counted by network,
  with their evidence.
* ``webhooks`` — signed delivery of warnings; ``attach_monitoring`` wires alerts onto a log.
* ``access_log`` — the server's own access log (``labourkb serve``): routes, never addresses or queries.
"""
