using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Marquee.Rights.Data.Migrations.Postgres
{
    /// <inheritdoc />
    internal partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.EnsureSchema(
                name: "rights");

            migrationBuilder.CreateTable(
                name: "contract_history",
                schema: "rights",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    ContractId = table.Column<Guid>(type: "uuid", nullable: false),
                    Sequence = table.Column<int>(type: "integer", nullable: false),
                    At = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Actor = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Change = table.Column<string>(type: "character varying(40000)", maxLength: 40000, nullable: false),
                    PreviousHash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_contract_history", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "contracts",
                schema: "rights",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    ProviderId = table.Column<Guid>(type: "uuid", nullable: false),
                    Name = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: false),
                    Status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Terms = table.Column<string>(type: "character varying(20000)", maxLength: 20000, nullable: false),
                    FeeModel = table.Column<string>(type: "character varying(30)", maxLength: 30, nullable: false),
                    Currency = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false),
                    FlatFee = table.Column<decimal>(type: "numeric(18,4)", precision: 18, scale: 4, nullable: true),
                    MinimumGuarantee = table.Column<decimal>(type: "numeric(18,4)", precision: 18, scale: 4, nullable: true),
                    RevenueSharePercent = table.Column<decimal>(type: "numeric(9,4)", precision: 9, scale: 4, nullable: true),
                    PerStreamRate = table.Column<decimal>(type: "numeric(18,6)", precision: 18, scale: 6, nullable: true),
                    PaymentSchedule = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Version = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_contracts", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "expiry_alerts",
                schema: "rights",
                columns: table => new
                {
                    LicenceId = table.Column<Guid>(type: "uuid", nullable: false),
                    DaysAhead = table.Column<int>(type: "integer", nullable: false),
                    EndsAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    RaisedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_expiry_alerts", x => new { x.LicenceId, x.DaysAhead });
                });

            migrationBuilder.CreateTable(
                name: "inbox",
                schema: "rights",
                columns: table => new
                {
                    MessageId = table.Column<Guid>(type: "uuid", nullable: false),
                    Handler = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_inbox", x => new { x.MessageId, x.Handler });
                });

            migrationBuilder.CreateTable(
                name: "licences",
                schema: "rights",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    Name = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: false),
                    ContractId = table.Column<Guid>(type: "uuid", nullable: true),
                    Worldwide = table.Column<bool>(type: "boolean", nullable: false),
                    Territories = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    ExcludedTerritories = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    StartsAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    EndsAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Platforms = table.Column<int>(type: "integer", nullable: false),
                    ServiceModels = table.Column<int>(type: "integer", nullable: false),
                    Exclusive = table.Column<bool>(type: "boolean", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_licences", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "outbox",
                schema: "rights",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    EventName = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Payload = table.Column<string>(type: "text", nullable: false),
                    OccurredAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Attempts = table.Column<int>(type: "integer", nullable: false),
                    NextAttemptAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    LockedUntil = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    DeliveredAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    FailedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    LastError = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_outbox", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "providers",
                schema: "rights",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    Name = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: false),
                    Kind = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_providers", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "revenue",
                schema: "rights",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    At = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Amount = table.Column<decimal>(type: "numeric(18,4)", precision: 18, scale: 4, nullable: false),
                    Currency = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false),
                    TitleId = table.Column<Guid>(type: "uuid", nullable: true),
                    Source = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_revenue", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "usage",
                schema: "rights",
                columns: table => new
                {
                    SessionId = table.Column<Guid>(type: "uuid", nullable: false),
                    TitleId = table.Column<Guid>(type: "uuid", nullable: false),
                    StartedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    EndedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    Seconds = table.Column<double>(type: "double precision", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_usage", x => x.SessionId);
                });

            migrationBuilder.CreateTable(
                name: "licence_titles",
                schema: "rights",
                columns: table => new
                {
                    LicenceId = table.Column<Guid>(type: "uuid", nullable: false),
                    TitleId = table.Column<Guid>(type: "uuid", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_licence_titles", x => new { x.LicenceId, x.TitleId });
                    table.ForeignKey(
                        name: "FK_licence_titles_licences_LicenceId",
                        column: x => x.LicenceId,
                        principalSchema: "rights",
                        principalTable: "licences",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "provider_contacts",
                schema: "rights",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    ProviderId = table.Column<Guid>(type: "uuid", nullable: false),
                    Name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Email = table.Column<string>(type: "character varying(320)", maxLength: 320, nullable: true),
                    Phone = table.Column<string>(type: "character varying(50)", maxLength: 50, nullable: true),
                    Role = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_provider_contacts", x => x.Id);
                    table.ForeignKey(
                        name: "FK_provider_contacts_providers_ProviderId",
                        column: x => x.ProviderId,
                        principalSchema: "rights",
                        principalTable: "providers",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_contract_history_ContractId_Sequence",
                schema: "rights",
                table: "contract_history",
                columns: new[] { "ContractId", "Sequence" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_contracts_ProviderId",
                schema: "rights",
                table: "contracts",
                column: "ProviderId");

            migrationBuilder.CreateIndex(
                name: "IX_licence_titles_TitleId",
                schema: "rights",
                table: "licence_titles",
                column: "TitleId");

            migrationBuilder.CreateIndex(
                name: "IX_licences_ContractId",
                schema: "rights",
                table: "licences",
                column: "ContractId");

            migrationBuilder.CreateIndex(
                name: "IX_licences_EndsAt",
                schema: "rights",
                table: "licences",
                column: "EndsAt");

            migrationBuilder.CreateIndex(
                name: "IX_outbox_DeliveredAt_FailedAt_NextAttemptAt",
                schema: "rights",
                table: "outbox",
                columns: new[] { "DeliveredAt", "FailedAt", "NextAttemptAt" });

            migrationBuilder.CreateIndex(
                name: "IX_provider_contacts_ProviderId",
                schema: "rights",
                table: "provider_contacts",
                column: "ProviderId");

            migrationBuilder.CreateIndex(
                name: "IX_revenue_At",
                schema: "rights",
                table: "revenue",
                column: "At");

            migrationBuilder.CreateIndex(
                name: "IX_usage_StartedAt",
                schema: "rights",
                table: "usage",
                column: "StartedAt");

            migrationBuilder.CreateIndex(
                name: "IX_usage_TitleId_StartedAt",
                schema: "rights",
                table: "usage",
                columns: new[] { "TitleId", "StartedAt" });

            // A contract's history is append-only: the database itself refuses changes, deletions and truncation.
            migrationBuilder.Sql("""
                CREATE FUNCTION rights.contract_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'the contract history is append-only'; END; $$;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER contract_history_append_only BEFORE UPDATE OR DELETE ON rights.contract_history
                FOR EACH ROW EXECUTE FUNCTION rights.contract_history_append_only();
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER contract_history_no_truncate BEFORE TRUNCATE ON rights.contract_history
                FOR EACH STATEMENT EXECUTE FUNCTION rights.contract_history_append_only();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS contract_history_no_truncate ON rights.contract_history;");
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS contract_history_append_only ON rights.contract_history;");
            migrationBuilder.Sql("DROP FUNCTION IF EXISTS rights.contract_history_append_only();");
            migrationBuilder.DropTable(
                name: "contract_history",
                schema: "rights");

            migrationBuilder.DropTable(
                name: "contracts",
                schema: "rights");

            migrationBuilder.DropTable(
                name: "expiry_alerts",
                schema: "rights");

            migrationBuilder.DropTable(
                name: "inbox",
                schema: "rights");

            migrationBuilder.DropTable(
                name: "licence_titles",
                schema: "rights");

            migrationBuilder.DropTable(
                name: "outbox",
                schema: "rights");

            migrationBuilder.DropTable(
                name: "provider_contacts",
                schema: "rights");

            migrationBuilder.DropTable(
                name: "revenue",
                schema: "rights");

            migrationBuilder.DropTable(
                name: "usage",
                schema: "rights");

            migrationBuilder.DropTable(
                name: "licences",
                schema: "rights");

            migrationBuilder.DropTable(
                name: "providers",
                schema: "rights");
        }
    }
}
