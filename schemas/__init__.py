"""Package data: the JSON Schema of flash.yaml (shipped inside the wheel as flashctl.schemas)."""
