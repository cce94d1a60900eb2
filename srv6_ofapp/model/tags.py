"""Tags (Neutron's standard-attr-tag): a set of strings on a resource,
kept on its document as a sorted list (a document written before tags has
none).  A change of its tags is a change of the resource: the next
revision_number (Neutron's Tag model revises its standard attributes).

The changes a client asks for (add one or several, replace all, remove one,
remove all) are functions from the current tags to the new ones, so the
plugin applies any of them in the resource's one read-check-write
(plugin.change_tags).  What the list filters (tags, tags-any, not-tags,
not-tags-any) mean is filters'.
"""

from srv6_ofapp import exceptions as exc

# neutron.extensions.tagging
MAX_LEN = 255
MAX_COUNT = 50
FILTERS = ('tags', 'tags-any', 'not-tags', 'not-tags-any')


def of(doc):
    return doc.get('tags', [])


def stored(collection, tags):
    """``tags`` as a document keeps them: once each, sorted, at most MAX_COUNT."""
    tags = sorted(set(tags))
    if len(tags) > MAX_COUNT:
        raise exc.BadRequest(resource=collection, msg='The number of tags exceed the '
                             'per-resource limit of %d' % MAX_COUNT)
    return tags


def require(tags, tag):
    if tag not in tags:
        raise exc.TagNotFound(tag=tag)


# -- changes: current tags -> new tags ------------------------------------

def adding(new):
    return lambda current: list(current) + list(new)


def replacing(new):
    return lambda current: list(new)


def removing(tag):
    def change(current):
        require(current, tag)
        return [t for t in current if t != tag]
    return change


def clearing():
    return lambda current: []
