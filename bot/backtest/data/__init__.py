"""`mmbot data`: recording, converting, generating and describing L2 event files."""
