"""The API versions tfdash speaks, as sent in the Api-Version header (docs/trustedform.md §2)."""

V3 = "3.0"  # Consent: a claim answers 201
V4 = "4.0"  # operations (retain, insights): a claim answers 200
