from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0022_deployment_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ServerGroup',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('description', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'server_groups', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A named set of servers that one operation can run on together.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='ServerGroupMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('group', fields.ForeignKeyField('models.ServerGroup', source_field='group_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('server', fields.ForeignKeyField('models.Server', source_field='server_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'server_group_members', 'app': 'models', 'unique_together': (('group', 'server'),), 'indexes': [Index(fields=['server_id'])], 'pk_attr': 'id', 'table_description': 'One server of a group (deleting either deletes the membership).'},
            bases=['Model'],
        ),
    ]
