"""The reference site's app (workspace/reference_site.py): what a site built on the workspace has,
small: a list of entries, each with a title and an optional upload; only logged-in users write.
The stack tests prove the platform on it, the bench measures it. It is copied into a copy of the
project as a user adds an app; never part of the project itself."""
