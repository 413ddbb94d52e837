"""What the real services promise, enforced on every simulator exchange.

- `spec`: the published OpenAPI descriptions (../shared/specs) and, where a publisher
  has none, our own descriptions written from its documentation (`house/`), each loaded
  once per process, with validators compiled per operation and cached;
- `allowlist.yaml`: the known defects of the published descriptions, each with its
  reason and spec location; nothing else is ever let through;
- `log`: every exchange of this process, the operations exercised and the violations;
- `guard`: the pytest plugin that fails a test whose exchanges broke a contract.
"""
