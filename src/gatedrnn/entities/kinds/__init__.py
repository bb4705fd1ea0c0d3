"""The entity tagger kinds, one module each; each registers itself with the registry
(``gatedrnn.registry.register_kind``), which imports every module here."""
