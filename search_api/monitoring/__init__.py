"""The query log and what is built on it, without exposing who asked.

Dependencies point one way, top to bottom:

* ``redact`` — personal numbers out of text; the day-salted visitor id.
* ``employers`` — employer names in queries: extraction, aliases, masking.
* ``records`` — the query-log file's tables and the record shapes written to it.
* ``querylog`` — ``QueryLog`` (queued, batched writer) and ``logged_search`` for routes.
* ``es_sink`` — the same records to Elasticsearch dated indices, spooled during outages.
* ``stats`` — reading the log: feed, aggregates, CSV export, all masked.
* ``alerts`` — employer warnings and district topic spikes raised from the log.
* ``webhooks`` — signed delivery of warnings; ``attach_monitoring`` wires alerts onto a log.
"""
