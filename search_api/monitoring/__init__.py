"""The query log and what is built on it, without exposing who asked.

Dependencies point one way, top to bottom:

* ``redact`` — personal numbers out of text, however written; the day-salted visitor and network ids.
* ``employers`` — employer names in queries: extraction, aliases, masking.
* ``records`` — the record shapes, written to the query-log store (``db.log_database``) and read back.
* ``tagging`` — a logged query's topics and named employers, from the project lexicon.
* ``spool`` — a local JSON-lines file of records waiting for a store that does not answer.
* ``log_store`` — the query-log database, and its spool while the database does not answer.
* ``signals`` — how well each logged search was answered (``gaps`` ranks the gap report by them).
* ``querylog`` — ``QueryLog`` (each record committed before the answer leaves; signed query ids)
  and ``logged_search`` for routes.
* ``es_sink`` — the same records to Elasticsearch dated indices, spooled during outages.
* ``stats`` — reading the log: feed, aggregates, CSV export, all masked.
* ``alerts`` — employer warnings and district topic spikes raised from the log, counted by network,
  with their evidence.
* ``webhooks`` — signed delivery of warnings; ``attach_monitoring`` wires alerts onto a log.
* ``access_log`` — the server's own access log (``labourkb serve``): routes, never addresses or queries.
"""
