using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Billing.Data.Migrations.Postgres
{
    /// <inheritdoc />
    internal partial class Reconciliation : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "RefundedAt",
                schema: "billing",
                table: "sandbox_charges",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "reconciliation_mismatches",
                schema: "billing",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    RunId = table.Column<Guid>(type: "uuid", nullable: false),
                    Kind = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    ChargeId = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    PaymentId = table.Column<Guid>(type: "uuid", nullable: true),
                    Currency = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false),
                    ExpectedAmount = table.Column<long>(type: "bigint", nullable: true),
                    ActualAmount = table.Column<long>(type: "bigint", nullable: true),
                    ExpectedFee = table.Column<long>(type: "bigint", nullable: true),
                    ActualFee = table.Column<long>(type: "bigint", nullable: true),
                    Detail = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: false),
                    ResolvedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    ResolvedBy = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    Resolution = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_reconciliation_mismatches", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "reconciliation_runs",
                schema: "billing",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    ImportedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    From = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    To = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    FileName = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Lines = table.Column<int>(type: "integer", nullable: false),
                    Matched = table.Column<int>(type: "integer", nullable: false),
                    ImportedBy = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_reconciliation_runs", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_reconciliation_mismatches_ResolvedAt",
                schema: "billing",
                table: "reconciliation_mismatches",
                column: "ResolvedAt");

            migrationBuilder.CreateIndex(
                name: "IX_reconciliation_mismatches_RunId",
                schema: "billing",
                table: "reconciliation_mismatches",
                column: "RunId");

            migrationBuilder.CreateIndex(
                name: "IX_reconciliation_runs_ImportedAt",
                schema: "billing",
                table: "reconciliation_runs",
                column: "ImportedAt");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "reconciliation_mismatches",
                schema: "billing");

            migrationBuilder.DropTable(
                name: "reconciliation_runs",
                schema: "billing");

            migrationBuilder.DropColumn(
                name: "RefundedAt",
                schema: "billing",
                table: "sandbox_charges");
        }
    }
}
