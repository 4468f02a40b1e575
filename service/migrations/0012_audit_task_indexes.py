from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0011_retry_of_index')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='AuditReport',
            index=Index(fields=['task_id']),
        ),
        ops.AddIndex(
            model_name='FiredOccurrence',
            index=Index(fields=['task_id']),
        ),
    ]
