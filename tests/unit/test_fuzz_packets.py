"""A mutated stream of DHCP and ARP frames through the edge app's packet-in
entry (tests/packetfuzz.py): no handler error, and no answer that breaks an
invariant (only back to the owner port, only its own address, nothing
across networks).  20,000 frames here; `make stress` pushes 1,000,000."""

import os
import time

import pytest

from tests import packetfuzz
from tests.fakeswitch import FakeSwitch
from tests.unit.test_edge_app import apps, connected, world  # noqa: F401 (fixtures)


def fuzz(apps, world, count, seed):  # noqa: F811
    switch = FakeSwitch(1, world.ofports)
    app = connected(apps, world, switch)
    started = time.monotonic()
    found, failed = packetfuzz.run(world, app, switch, count, seed)
    elapsed = time.monotonic() - started
    print('%d frames in %.1f s (%.0f/s), %d broke an invariant'
          % (count, elapsed, count / elapsed, failed))
    assert not found, '%d of %d frames broke an invariant; the first: %s' % (
        failed, count, [(in_port, frame.hex(), problems)
                        for in_port, frame, problems in found])


def test_mutated_frames_get_no_error_and_no_wrong_answer(apps, world):  # noqa: F811
    fuzz(apps, world, 20000, seed=1)


@pytest.mark.stress
def test_a_million_mutated_frames(apps, world):  # noqa: F811
    fuzz(apps, world, int(os.environ.get('SRV6_FUZZ_FRAMES', '1000000')), seed=2)
