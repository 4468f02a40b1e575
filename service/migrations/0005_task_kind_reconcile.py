from tortoise import migrations
from tortoise.migrations import operations as ops
from service.models.tasks import TaskKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_deployments')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Task',
            name='kind',
            field=fields.CharEnumField(description='CONNECTION_TEST: connection_test\nSETUP: setup\nPACKAGES: packages\nLOCKDOWN: lockdown\nAUDIT: audit\nSERVICE: service\nDEPLOY: deploy\nROLLBACK: rollback\nRECONCILE: reconcile', enum_type=TaskKind, max_length=32),
        ),
    ]
