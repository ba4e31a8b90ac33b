# ruff: noqa: N999
# A migration module, named as Django names them.
from tests.app.releasing import initial

Migration = initial.Migration
