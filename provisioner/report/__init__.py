"""Results out: the console, report.json, events.jsonl and junit.xml. Secrets never appear."""
