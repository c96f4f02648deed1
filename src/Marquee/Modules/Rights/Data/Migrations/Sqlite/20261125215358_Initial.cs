using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Rights.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "rights_contract_history",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ContractId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Sequence = table.Column<int>(type: "INTEGER", nullable: false),
                    At = table.Column<long>(type: "INTEGER", nullable: false),
                    Actor = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Change = table.Column<string>(type: "TEXT", maxLength: 40000, nullable: false),
                    PreviousHash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rights_contract_history", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "rights_contracts",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    ProviderId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Terms = table.Column<string>(type: "TEXT", maxLength: 20000, nullable: false),
                    FeeModel = table.Column<string>(type: "TEXT", maxLength: 30, nullable: false),
                    Currency = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    FlatFee = table.Column<decimal>(type: "TEXT", precision: 18, scale: 4, nullable: true),
                    MinimumGuarantee = table.Column<decimal>(type: "TEXT", precision: 18, scale: 4, nullable: true),
                    RevenueSharePercent = table.Column<decimal>(type: "TEXT", precision: 9, scale: 4, nullable: true),
                    PerStreamRate = table.Column<decimal>(type: "TEXT", precision: 18, scale: 6, nullable: true),
                    PaymentSchedule = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    Version = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rights_contracts", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "rights_expiry_alerts",
                columns: table => new
                {
                    LicenceId = table.Column<Guid>(type: "TEXT", nullable: false),
                    DaysAhead = table.Column<int>(type: "INTEGER", nullable: false),
                    EndsAt = table.Column<long>(type: "INTEGER", nullable: false),
                    RaisedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rights_expiry_alerts", x => new { x.LicenceId, x.DaysAhead });
                });

            migrationBuilder.CreateTable(
                name: "rights_inbox",
                columns: table => new
                {
                    MessageId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Handler = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rights_inbox", x => new { x.MessageId, x.Handler });
                });

            migrationBuilder.CreateTable(
                name: "rights_licences",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    ContractId = table.Column<Guid>(type: "TEXT", nullable: true),
                    Worldwide = table.Column<bool>(type: "INTEGER", nullable: false),
                    Territories = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: false),
                    ExcludedTerritories = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: false),
                    StartsAt = table.Column<long>(type: "INTEGER", nullable: false),
                    EndsAt = table.Column<long>(type: "INTEGER", nullable: false),
                    Platforms = table.Column<int>(type: "INTEGER", nullable: false),
                    ServiceModels = table.Column<int>(type: "INTEGER", nullable: false),
                    Exclusive = table.Column<bool>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rights_licences", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "rights_outbox",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    EventName = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Payload = table.Column<string>(type: "TEXT", nullable: false),
                    OccurredAt = table.Column<long>(type: "INTEGER", nullable: false),
                    Attempts = table.Column<int>(type: "INTEGER", nullable: false),
                    NextAttemptAt = table.Column<long>(type: "INTEGER", nullable: false),
                    LockedUntil = table.Column<long>(type: "INTEGER", nullable: true),
                    DeliveredAt = table.Column<long>(type: "INTEGER", nullable: true),
                    FailedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    LastError = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rights_outbox", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "rights_providers",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    Kind = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rights_providers", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "rights_revenue",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    At = table.Column<long>(type: "INTEGER", nullable: false),
                    Amount = table.Column<decimal>(type: "TEXT", precision: 18, scale: 4, nullable: false),
                    Currency = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    TitleId = table.Column<Guid>(type: "TEXT", nullable: true),
                    Source = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rights_revenue", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "rights_usage",
                columns: table => new
                {
                    SessionId = table.Column<Guid>(type: "TEXT", nullable: false),
                    TitleId = table.Column<Guid>(type: "TEXT", nullable: false),
                    StartedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    EndedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    Seconds = table.Column<double>(type: "REAL", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rights_usage", x => x.SessionId);
                });

            migrationBuilder.CreateTable(
                name: "rights_licence_titles",
                columns: table => new
                {
                    LicenceId = table.Column<Guid>(type: "TEXT", nullable: false),
                    TitleId = table.Column<Guid>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rights_licence_titles", x => new { x.LicenceId, x.TitleId });
                    table.ForeignKey(
                        name: "FK_rights_licence_titles_rights_licences_LicenceId",
                        column: x => x.LicenceId,
                        principalTable: "rights_licences",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "rights_provider_contacts",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    ProviderId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Email = table.Column<string>(type: "TEXT", maxLength: 320, nullable: true),
                    Phone = table.Column<string>(type: "TEXT", maxLength: 50, nullable: true),
                    Role = table.Column<string>(type: "TEXT", maxLength: 100, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rights_provider_contacts", x => x.Id);
                    table.ForeignKey(
                        name: "FK_rights_provider_contacts_rights_providers_ProviderId",
                        column: x => x.ProviderId,
                        principalTable: "rights_providers",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_rights_contract_history_ContractId_Sequence",
                table: "rights_contract_history",
                columns: new[] { "ContractId", "Sequence" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_rights_contracts_ProviderId",
                table: "rights_contracts",
                column: "ProviderId");

            migrationBuilder.CreateIndex(
                name: "IX_rights_licence_titles_TitleId",
                table: "rights_licence_titles",
                column: "TitleId");

            migrationBuilder.CreateIndex(
                name: "IX_rights_licences_ContractId",
                table: "rights_licences",
                column: "ContractId");

            migrationBuilder.CreateIndex(
                name: "IX_rights_licences_EndsAt",
                table: "rights_licences",
                column: "EndsAt");

            migrationBuilder.CreateIndex(
                name: "IX_rights_outbox_DeliveredAt_FailedAt_NextAttemptAt",
                table: "rights_outbox",
                columns: new[] { "DeliveredAt", "FailedAt", "NextAttemptAt" });

            migrationBuilder.CreateIndex(
                name: "IX_rights_provider_contacts_ProviderId",
                table: "rights_provider_contacts",
                column: "ProviderId");

            migrationBuilder.CreateIndex(
                name: "IX_rights_revenue_At",
                table: "rights_revenue",
                column: "At");

            migrationBuilder.CreateIndex(
                name: "IX_rights_usage_StartedAt",
                table: "rights_usage",
                column: "StartedAt");

            migrationBuilder.CreateIndex(
                name: "IX_rights_usage_TitleId_StartedAt",
                table: "rights_usage",
                columns: new[] { "TitleId", "StartedAt" });

            // A contract's history is append-only: the database itself refuses changes and deletions.
            migrationBuilder.Sql("""
                CREATE TRIGGER rights_contract_history_no_update BEFORE UPDATE ON rights_contract_history
                BEGIN SELECT RAISE(ABORT, 'the contract history is append-only'); END;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER rights_contract_history_no_delete BEFORE DELETE ON rights_contract_history
                BEGIN SELECT RAISE(ABORT, 'the contract history is append-only'); END;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS rights_contract_history_no_update;");
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS rights_contract_history_no_delete;");
            migrationBuilder.DropTable(
                name: "rights_contract_history");

            migrationBuilder.DropTable(
                name: "rights_contracts");

            migrationBuilder.DropTable(
                name: "rights_expiry_alerts");

            migrationBuilder.DropTable(
                name: "rights_inbox");

            migrationBuilder.DropTable(
                name: "rights_licence_titles");

            migrationBuilder.DropTable(
                name: "rights_outbox");

            migrationBuilder.DropTable(
                name: "rights_provider_contacts");

            migrationBuilder.DropTable(
                name: "rights_revenue");

            migrationBuilder.DropTable(
                name: "rights_usage");

            migrationBuilder.DropTable(
                name: "rights_licences");

            migrationBuilder.DropTable(
                name: "rights_providers");
        }
    }
}
