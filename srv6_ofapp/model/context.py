"""Who is asking: the request context the REST layer's authenticator makes
and every plugin call takes."""


class Context:
    """The caller's project and whether it is an admin (keystonemiddleware's
    X-Project-Id and the admin role; rest/auth.py decides)."""

    def __init__(self, project_id, is_admin=False):
        self.project_id = project_id
        self.is_admin = is_admin

    def __repr__(self):
        return 'Context(project_id=%r, is_admin=%r)' % (self.project_id, self.is_admin)
