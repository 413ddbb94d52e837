"""Statement files: Wise CSV exports, CAMT.053 XML and MT940, parsed into the same
`StatementLine`s (and natural keys) as the Wise API, then stored through
`accounts.services.transactions_ingest`."""
