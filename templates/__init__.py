"""Package data: the Jinja templates of a rendered build context (shipped as flashctl.templates)."""
