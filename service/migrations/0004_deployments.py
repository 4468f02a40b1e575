from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from service.models.deployments import DeployStrategy, DeploymentKind
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_version_uploads')]

    initial = False

    operations = [
        ops.AddField(
            model_name='App',
            name='servers',
            field=fields.ManyToManyField('models.Server', unique=True, db_constraint=True, through='app_servers', forward_key='server_id', backward_key='apps_id', related_name='extra_apps', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='Deployment',
            name='current_step',
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.AddField(
            model_name='Deployment',
            name='error',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Deployment',
            name='host_results',
            field=fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Deployment',
            name='kind',
            field=fields.CharEnumField(default=DeploymentKind.DEPLOY, description='DEPLOY: deploy\nROLLBACK: rollback', enum_type=DeploymentKind, max_length=16),
        ),
        ops.AddField(
            model_name='Deployment',
            name='options',
            field=fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Deployment',
            name='release_id',
            field=fields.CharField(null=True, max_length=160),
        ),
        ops.AddField(
            model_name='Deployment',
            name='strategy',
            field=fields.CharEnumField(default=DeployStrategy.ROLLING, description='ROLLING: rolling\nBLUE_GREEN: blue-green', enum_type=DeployStrategy, max_length=16),
        ),
        ops.AddField(
            model_name='Task',
            name='server_ids',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
