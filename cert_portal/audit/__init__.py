"""The audit trail (issue 13): an append-only record of who did or saw what, as which CERT, from
where and when. `record` writes one event; `access` says who may read which events."""
