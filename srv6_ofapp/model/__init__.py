"""The model's rules (Neutron's "core plugin"): what creating, updating or
deleting a resource means, in one store transaction per request."""
