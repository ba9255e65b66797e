"""The coordinators' console: server-rendered pages for who is on call, calls,
the callback queue and reports; sign-in by SMS code; the iCal feed; gap alerts;
and the NEN 7513 access log of every look at call data."""
