from tortoise import migrations
from tortoise.migrations import operations as ops
from service.models.tasks import TaskKind
from tortoise import fields

from service.storage.db import sqlite_foreign_keys

class Migration(migrations.Migration):
    dependencies = [('models', '0005_keep_task_history')]

    initial = False
    atomic = False

    operations = [
        ops.RunPython(sqlite_foreign_keys("OFF"), sqlite_foreign_keys("ON")),
        ops.AlterField(
            model_name='Task',
            name='kind',
            field=fields.CharEnumField(description='CONNECTION_TEST: connection_test\nSETUP: setup\nPACKAGES: packages\nLOCKDOWN: lockdown\nAUDIT: audit\nSERVICE: service\nDEPLOY: deploy\nROLLBACK: rollback\nRECONCILE: reconcile', enum_type=TaskKind, max_length=32),
        ),
        ops.RunPython(sqlite_foreign_keys("ON"), sqlite_foreign_keys("OFF")),
    ]
