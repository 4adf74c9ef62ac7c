"""moto's server (`moto_server`), with a Query on a table's own key reading only that key's partition.

moto 5.2.5 answers every Query by sorting the whole table and keeping the items of the asked partition,
so a Query's time grows with the table, not with the partition: in a table holding many guilds, each
guild's Query costs what reading every guild would. Here a Query on the table's key (not on an index)
gets the asked partition alone, the items moto itself keeps under that key. The answer is the same
items, in the same order, through moto's own filtering, paging and limits; only the time changes.
Queries on indexes, scans and every other operation are moto's, unchanged.

Run with the venv's Python, with `moto_server`'s arguments: `.venv/bin/python scripts/moto_server.py -p 5000`.
"""

import inspect
import sys
import threading

import moto
from moto.dynamodb.models.table import Table
from moto.server import main

# The patch is written against this version's `Table.query` and `Table.all_items`; a different moto
# must be checked again (scripts/requirements.txt pins it).
PATCHED_FOR = "5.2.5"
if moto.__version__ != PATCHED_FOR:
    sys.exit(f"scripts/moto_server.py was written for moto {PATCHED_FOR}, not {moto.__version__}")

_partition = threading.local()
_all_items = Table.all_items
_query = Table.query
_query_signature = inspect.signature(_query)


def all_items(self):
    """The table's items in key order; during a Query on this table's key, only that partition's."""
    asked = getattr(_partition, "asked", None)
    if asked is None or asked[0] is not self:
        return _all_items(self)
    hash_set = self.items.get(asked[1])
    if hash_set is None:
        return []
    if not self.range_key_attr:
        return [hash_set]
    return sorted(hash_set.values(), key=lambda item: item.range_key)


def query(self, *args, **kwargs):
    bound = _query_signature.bind(self, *args, **kwargs)
    if bound.arguments.get("index_name") or bound.arguments.get("hash_key") is None:
        return _query(self, *args, **kwargs)
    _partition.asked = (self, bound.arguments["hash_key"])
    try:
        return _query(self, *args, **kwargs)
    finally:
        _partition.asked = None


Table.all_items = all_items
Table.query = query

if __name__ == "__main__":
    main(sys.argv[1:])
