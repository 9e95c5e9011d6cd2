"""Mining pull requests into candidates: GitHub (REST + GraphQL) or a local clone."""
