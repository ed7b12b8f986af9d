"""Response templates: language choice and safe placeholder substitution."""
