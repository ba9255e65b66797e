"""Pure core: decisions as data; no I/O, no clock reads, no Flask, Redis or Twilio REST."""
