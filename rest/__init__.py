"""The Neutron v2.0-compatible WSGI REST layer (webob + Routes)."""
