"""A resource's tags as its sub-resource, Neutron's standard-attr-tag and
tag-creation (neutron.extensions.tagging):

  GET    /v2.0/{collection}/{id}/tags         200 {"tags": [...]}
  GET    /v2.0/{collection}/{id}/tags/{tag}   204, or 404 TagNotFound
  POST   /v2.0/{collection}/{id}/tags         200: adds {"tags": [...]}, echoed
  PUT    /v2.0/{collection}/{id}/tags         200: replaces all with {"tags": [...]}, echoed
  PUT    /v2.0/{collection}/{id}/tags/{tag}   201: adds one
  DELETE /v2.0/{collection}/{id}/tags         204: removes all
  DELETE /v2.0/{collection}/{id}/tags/{tag}   204, or 404 TagNotFound

for every collection whose attribute map has ``tags``.  A tag or tags that
are not strings of at most 255 characters, once each, are 400 InvalidInput;
the rules about tags themselves are the model's (srv6_ofapp/model/tags.py).
"""

from rest import validators as v
from rest.definitions import base
from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import tags as tag_lib


class Controller:

    def __init__(self, plugin):
        self.plugin = plugin

    def handle(self, ctx, action, collection, id_, tag, body, if_revision):
        """(status, body) of ``action`` (index, show, create, update_all,
        update, delete_all, delete); ``tag`` is the URL's, ``body`` the
        request's (create and update_all)."""
        if tag is not None:
            _check(v.string(tag_lib.MAX_LEN), tag)
        if action in ('index', 'show'):
            tags = self.plugin.get_tags(ctx, collection, id_)
            if action == 'index':
                return 200, {'tags': tags}
            tag_lib.require(tags, tag)
            return 204, None
        requested = _tags_body(body) if action in ('create', 'update_all') else [tag]
        if action == 'create':
            change, status = tag_lib.adding(requested), 200
        elif action == 'update_all':
            change, status = tag_lib.replacing(requested), 200
        elif action == 'update':
            change, status = tag_lib.adding(requested), 201
        elif action == 'delete_all':
            change, status = tag_lib.clearing(), 204
        else:
            change, status = tag_lib.removing(tag), 204
        self.plugin.change_tags(ctx, collection, id_, change, if_revision)
        # Neutron answers with the tags asked for.
        return status, {'tags': requested} if status == 200 else None


def _tags_body(body):
    if not isinstance(body, dict) or 'tags' not in body:
        raise exc.InvalidInput(error_message='Invalid tags body')
    return _check(base.TAG_LIST, body['tags'])


def _check(validate, value):
    try:
        return validate(value)
    except ValueError as error:
        raise exc.InvalidInput(error_message=str(error))
