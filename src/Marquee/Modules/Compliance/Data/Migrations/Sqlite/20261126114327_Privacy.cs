using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Compliance.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class Privacy : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "RedactedAt",
                table: "compliance_audit_entries",
                type: "INTEGER",
                nullable: true);

            // Still append-only, but an erased person's identifiers may be redacted: an update must set RedactedAt and
            // keep the line's id, time, action and source message (CompliancePrivacy); deletes stay refused.
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS compliance_audit_entries_no_update;");
            migrationBuilder.Sql("""
                CREATE TRIGGER compliance_audit_entries_no_update BEFORE UPDATE ON compliance_audit_entries
                WHEN NEW."RedactedAt" IS NULL OR NEW."Id" IS NOT OLD."Id" OR NEW."At" IS NOT OLD."At"
                  OR NEW."Action" IS NOT OLD."Action" OR NEW."SourceMessageId" IS NOT OLD."SourceMessageId"
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only (only a redaction may change a line)'); END;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS compliance_audit_entries_no_update;");
            migrationBuilder.Sql("""
                CREATE TRIGGER compliance_audit_entries_no_update BEFORE UPDATE ON compliance_audit_entries
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                """);
            migrationBuilder.DropColumn(
                name: "RedactedAt",
                table: "compliance_audit_entries");
        }
    }
}
