using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Compliance.Data.Migrations.Postgres
{
    /// <summary>
    /// R24: an erasure's redaction of audit lines runs through a function that runs as its owner (the role that migrates),
    /// so that the app's role (<c>Marquee:Database:AppRole</c>) needs no UPDATE on <c>compliance.audit_entries</c>. The
    /// function can only replace a text of 4 or more characters by an erasure's pseudonym (<c>erased:</c> and 32 hex
    /// digits), drop the client address and mark the line redacted (what the append-only trigger allows); it returns the
    /// ids of the lines it redacted. Executable by its owner only, until <c>marquee db migrate</c> grants it to the app role.
    /// </summary>
    internal partial class AuditRedaction : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION compliance.redact_audit_entries(needle text, pseudonym text, redacted_at timestamp with time zone)
                RETURNS SETOF bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
                  UPDATE compliance.audit_entries
                     SET "Actor" = left(replace("Actor", needle, pseudonym), 200),
                         "Target" = left(replace("Target", needle, pseudonym), 300),
                         "Details" = left(replace("Details", needle, pseudonym), 4000),
                         "From" = NULL,
                         "RedactedAt" = redacted_at
                   WHERE length(needle) >= 4 AND pseudonym ~ '^erased:[0-9a-f]{32}$' AND redacted_at IS NOT NULL
                     AND (strpos("Actor", needle) > 0 OR strpos("Target", needle) > 0 OR strpos(coalesce("Details", ''), needle) > 0)
                  RETURNING "Id";
                $$;
                """);
            migrationBuilder.Sql("REVOKE ALL ON FUNCTION compliance.redact_audit_entries(text, text, timestamp with time zone) FROM PUBLIC;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP FUNCTION IF EXISTS compliance.redact_audit_entries(text, text, timestamp with time zone);");
        }
    }
}
