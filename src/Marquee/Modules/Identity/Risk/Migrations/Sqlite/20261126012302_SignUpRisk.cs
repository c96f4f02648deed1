using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Identity.Risk.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class SignUpRisk : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "risk_inbox",
                columns: table => new
                {
                    MessageId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Handler = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_risk_inbox", x => new { x.MessageId, x.Handler });
                });

            migrationBuilder.CreateTable(
                name: "risk_outbox",
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
                    table.PrimaryKey("PK_risk_outbox", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "risk_sign_up_decisions",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    At = table.Column<long>(type: "INTEGER", nullable: false),
                    Email = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    Ip = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    Subnet = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    Fingerprint = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    UserAgent = table.Column<string>(type: "TEXT", maxLength: 300, nullable: true),
                    Score = table.Column<int>(type: "INTEGER", nullable: false),
                    Outcome = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Reasons = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: false),
                    HeldUntil = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_risk_sign_up_decisions", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_risk_outbox_DeliveredAt_FailedAt_NextAttemptAt",
                table: "risk_outbox",
                columns: new[] { "DeliveredAt", "FailedAt", "NextAttemptAt" });

            migrationBuilder.CreateIndex(
                name: "IX_risk_sign_up_decisions_At",
                table: "risk_sign_up_decisions",
                column: "At");

            migrationBuilder.CreateIndex(
                name: "IX_risk_sign_up_decisions_Email_At",
                table: "risk_sign_up_decisions",
                columns: new[] { "Email", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_risk_sign_up_decisions_Fingerprint_At",
                table: "risk_sign_up_decisions",
                columns: new[] { "Fingerprint", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_risk_sign_up_decisions_Ip_At",
                table: "risk_sign_up_decisions",
                columns: new[] { "Ip", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_risk_sign_up_decisions_Subnet_At",
                table: "risk_sign_up_decisions",
                columns: new[] { "Subnet", "At" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "risk_inbox");

            migrationBuilder.DropTable(
                name: "risk_outbox");

            migrationBuilder.DropTable(
                name: "risk_sign_up_decisions");
        }
    }
}
