using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Billing.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class Reconciliation : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "RefundedAt",
                table: "billing_sandbox_charges",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "billing_reconciliation_mismatches",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    RunId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Kind = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    ChargeId = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    PaymentId = table.Column<Guid>(type: "TEXT", nullable: true),
                    Currency = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    ExpectedAmount = table.Column<long>(type: "INTEGER", nullable: true),
                    ActualAmount = table.Column<long>(type: "INTEGER", nullable: true),
                    ExpectedFee = table.Column<long>(type: "INTEGER", nullable: true),
                    ActualFee = table.Column<long>(type: "INTEGER", nullable: true),
                    Detail = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    ResolvedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    ResolvedBy = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    Resolution = table.Column<string>(type: "TEXT", maxLength: 500, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_billing_reconciliation_mismatches", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "billing_reconciliation_runs",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    ImportedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    From = table.Column<long>(type: "INTEGER", nullable: false),
                    To = table.Column<long>(type: "INTEGER", nullable: false),
                    FileName = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Lines = table.Column<int>(type: "INTEGER", nullable: false),
                    Matched = table.Column<int>(type: "INTEGER", nullable: false),
                    ImportedBy = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_billing_reconciliation_runs", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_billing_reconciliation_mismatches_ResolvedAt",
                table: "billing_reconciliation_mismatches",
                column: "ResolvedAt");

            migrationBuilder.CreateIndex(
                name: "IX_billing_reconciliation_mismatches_RunId",
                table: "billing_reconciliation_mismatches",
                column: "RunId");

            migrationBuilder.CreateIndex(
                name: "IX_billing_reconciliation_runs_ImportedAt",
                table: "billing_reconciliation_runs",
                column: "ImportedAt");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "billing_reconciliation_mismatches");

            migrationBuilder.DropTable(
                name: "billing_reconciliation_runs");

            migrationBuilder.DropColumn(
                name: "RefundedAt",
                table: "billing_sandbox_charges");
        }
    }
}
