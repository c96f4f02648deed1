using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Compliance.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class Secrets : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ContentDigest",
                table: "compliance_audit_entries",
                type: "TEXT",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Hash",
                table: "compliance_audit_entries",
                type: "TEXT",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "Sequence",
                table: "compliance_audit_entries",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "compliance_audit_chain",
                columns: table => new
                {
                    Id = table.Column<int>(type: "INTEGER", nullable: false),
                    Sequence = table.Column<long>(type: "INTEGER", nullable: false),
                    Hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_compliance_audit_chain", x => x.Id);
                });

            migrationBuilder.InsertData(
                table: "compliance_audit_chain",
                columns: new[] { "Id", "Hash", "Sequence" },
                values: new object[] { 1, "0000000000000000000000000000000000000000000000000000000000000000", 0L });

            migrationBuilder.CreateIndex(
                name: "IX_compliance_audit_entries_Sequence",
                table: "compliance_audit_entries",
                column: "Sequence",
                unique: true);

            // A redaction keeps a line's place and digests in the hash chain as well (AuditChainHash).
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS compliance_audit_entries_no_update;");
            migrationBuilder.Sql("""
                CREATE TRIGGER compliance_audit_entries_no_update BEFORE UPDATE ON compliance_audit_entries
                WHEN NEW."RedactedAt" IS NULL OR NEW."Id" IS NOT OLD."Id" OR NEW."At" IS NOT OLD."At"
                  OR NEW."Action" IS NOT OLD."Action" OR NEW."SourceMessageId" IS NOT OLD."SourceMessageId"
                  OR NEW."Sequence" IS NOT OLD."Sequence" OR NEW."ContentDigest" IS NOT OLD."ContentDigest" OR NEW."Hash" IS NOT OLD."Hash"
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only (only a redaction may change a line)'); END;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS compliance_audit_entries_no_update;");
            migrationBuilder.Sql("""
                CREATE TRIGGER compliance_audit_entries_no_update BEFORE UPDATE ON compliance_audit_entries
                WHEN NEW."RedactedAt" IS NULL OR NEW."Id" IS NOT OLD."Id" OR NEW."At" IS NOT OLD."At"
                  OR NEW."Action" IS NOT OLD."Action" OR NEW."SourceMessageId" IS NOT OLD."SourceMessageId"
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only (only a redaction may change a line)'); END;
                """);
            migrationBuilder.DropTable(
                name: "compliance_audit_chain");

            migrationBuilder.DropIndex(
                name: "IX_compliance_audit_entries_Sequence",
                table: "compliance_audit_entries");

            migrationBuilder.DropColumn(
                name: "ContentDigest",
                table: "compliance_audit_entries");

            migrationBuilder.DropColumn(
                name: "Hash",
                table: "compliance_audit_entries");

            migrationBuilder.DropColumn(
                name: "Sequence",
                table: "compliance_audit_entries");
        }
    }
}
