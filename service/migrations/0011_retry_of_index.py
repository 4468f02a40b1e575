from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0010_audit_schedules')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Task',
            index=Index(fields=['retry_of_id']),
        ),
    ]
