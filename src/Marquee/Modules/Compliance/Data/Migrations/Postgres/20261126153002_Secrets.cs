using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Compliance.Data.Migrations.Postgres
{
    /// <inheritdoc />
    internal partial class Secrets : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ContentDigest",
                schema: "compliance",
                table: "audit_entries",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Hash",
                schema: "compliance",
                table: "audit_entries",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "Sequence",
                schema: "compliance",
                table: "audit_entries",
                type: "bigint",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "audit_chain",
                schema: "compliance",
                columns: table => new
                {
                    Id = table.Column<int>(type: "integer", nullable: false),
                    Sequence = table.Column<long>(type: "bigint", nullable: false),
                    Hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_audit_chain", x => x.Id);
                });

            migrationBuilder.InsertData(
                schema: "compliance",
                table: "audit_chain",
                columns: new[] { "Id", "Hash", "Sequence" },
                values: new object[] { 1, "0000000000000000000000000000000000000000000000000000000000000000", 0L });

            migrationBuilder.CreateIndex(
                name: "IX_audit_entries_Sequence",
                schema: "compliance",
                table: "audit_entries",
                column: "Sequence",
                unique: true);

            // A redaction keeps a line's place and digests in the hash chain as well (AuditChainHash).
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION compliance.audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP = 'UPDATE' THEN
                    IF NEW."RedactedAt" IS NOT NULL AND NEW."Id" = OLD."Id" AND NEW."At" = OLD."At" AND NEW."Action" = OLD."Action"
                       AND NEW."SourceMessageId" IS NOT DISTINCT FROM OLD."SourceMessageId"
                       AND NEW."Sequence" IS NOT DISTINCT FROM OLD."Sequence" AND NEW."ContentDigest" IS NOT DISTINCT FROM OLD."ContentDigest"
                       AND NEW."Hash" IS NOT DISTINCT FROM OLD."Hash" THEN
                      RETURN NEW;
                    END IF;
                    RAISE EXCEPTION 'the audit log is append-only (only a redaction may change a line)';
                  END IF;
                  RAISE EXCEPTION 'the audit log is append-only';
                END; $$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION compliance.audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP = 'UPDATE' THEN
                    IF NEW."RedactedAt" IS NOT NULL AND NEW."Id" = OLD."Id" AND NEW."At" = OLD."At" AND NEW."Action" = OLD."Action"
                       AND NEW."SourceMessageId" IS NOT DISTINCT FROM OLD."SourceMessageId" THEN
                      RETURN NEW;
                    END IF;
                    RAISE EXCEPTION 'the audit log is append-only (only a redaction may change a line)';
                  END IF;
                  RAISE EXCEPTION 'the audit log is append-only';
                END; $$;
                """);

            migrationBuilder.DropTable(
                name: "audit_chain",
                schema: "compliance");

            migrationBuilder.DropIndex(
                name: "IX_audit_entries_Sequence",
                schema: "compliance",
                table: "audit_entries");

            migrationBuilder.DropColumn(
                name: "ContentDigest",
                schema: "compliance",
                table: "audit_entries");

            migrationBuilder.DropColumn(
                name: "Hash",
                schema: "compliance",
                table: "audit_entries");

            migrationBuilder.DropColumn(
                name: "Sequence",
                schema: "compliance",
                table: "audit_entries");
        }
    }
}
