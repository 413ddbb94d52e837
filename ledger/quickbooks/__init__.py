"""QuickBooks Online: Intuit's OAuth 2.0 (`oauth`), the v3 Accounting API client (`client`)
and the per-company call limits (`limits`). Not yet wired into the books pages."""
