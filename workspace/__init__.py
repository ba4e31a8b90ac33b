"""The workspace's own Python code, shared by tasks.py, the stack tests and the bench."""
