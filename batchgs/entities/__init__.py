"""Entity specs: one declarative module per entity, and the registry."""
