using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Compliance.Data.Migrations.Postgres
{
    /// <inheritdoc />
    internal partial class Privacy : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "RedactedAt",
                schema: "compliance",
                table: "audit_entries",
                type: "timestamp with time zone",
                nullable: true);

            // Still append-only, but an erased person's identifiers may be redacted: an update must set RedactedAt and
            // keep the line's id, time, action and source message (CompliancePrivacy); deletes and truncation stay refused.
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
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION compliance.audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'the audit log is append-only'; END; $$;
                """);
            migrationBuilder.DropColumn(
                name: "RedactedAt",
                schema: "compliance",
                table: "audit_entries");
        }
    }
}
