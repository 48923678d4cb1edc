"""Route handlers, one module per Capgo resource, and the table that wires them."""
