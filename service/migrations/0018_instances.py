from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0017_app_tls')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Instance',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('hostname', fields.CharField(max_length=255)),
                ('pid', fields.IntField()),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('heartbeat_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('stopped_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('stop_reason', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'instances', 'app': 'models', 'pk_attr': 'name', 'table_description': 'One `pb-deployer serve` process: alive while its heartbeat is younger than the lease.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Task',
            name='instance',
            field=fields.CharField(null=True, max_length=128),
        ),
    ]
