from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from service.models.tokens import Role
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_task_kind_reconcile')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ApiToken',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ApiToken',
            name='role',
            field=fields.CharEnumField(default=Role.ADMIN, description='VIEWER: viewer\nDEPLOYER: deployer\nADMIN: admin', enum_type=Role, max_length=16),
        ),
        ops.AddField(
            model_name='ApiToken',
            name='scope_apps',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='ApiToken',
            name='scope_servers',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
