"""Redis stores: one module per noun (calls, callbacks), each owning its key prefix."""
