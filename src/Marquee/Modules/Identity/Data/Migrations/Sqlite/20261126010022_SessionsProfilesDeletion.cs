using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Identity.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class SessionsProfilesDeletion : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Purpose",
                table: "identity_magic_links",
                type: "TEXT",
                maxLength: 20,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<long>(
                name: "DeleteAfter",
                table: "identity_accounts",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "DeletionRequestedAt",
                table: "identity_accounts",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "DisplayName",
                table: "identity_accounts",
                type: "TEXT",
                maxLength: 100,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "identity_profiles",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    AccountId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    IsKids = table.Column<bool>(type: "INTEGER", nullable: false),
                    MaturityLimit = table.Column<int>(type: "INTEGER", nullable: true),
                    PinHash = table.Column<string>(type: "TEXT", maxLength: 512, nullable: true),
                    Language = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_identity_profiles", x => x.Id);
                    table.ForeignKey(
                        name: "FK_identity_profiles_identity_accounts_AccountId",
                        column: x => x.AccountId,
                        principalTable: "identity_accounts",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "identity_sessions",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    AccountId = table.Column<Guid>(type: "TEXT", nullable: false),
                    UserAgent = table.Column<string>(type: "TEXT", maxLength: 120, nullable: true),
                    Ip = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    Country = table.Column<string>(type: "TEXT", maxLength: 2, nullable: true),
                    Method = table.Column<string>(type: "TEXT", maxLength: 20, nullable: true),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    LastSeenAt = table.Column<long>(type: "INTEGER", nullable: false),
                    RevokedAt = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_identity_sessions", x => x.Id);
                    table.ForeignKey(
                        name: "FK_identity_sessions_identity_accounts_AccountId",
                        column: x => x.AccountId,
                        principalTable: "identity_accounts",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_identity_accounts_DeleteAfter",
                table: "identity_accounts",
                column: "DeleteAfter");

            migrationBuilder.CreateIndex(
                name: "IX_identity_profiles_AccountId",
                table: "identity_profiles",
                column: "AccountId");

            migrationBuilder.CreateIndex(
                name: "IX_identity_sessions_AccountId",
                table: "identity_sessions",
                column: "AccountId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "identity_profiles");

            migrationBuilder.DropTable(
                name: "identity_sessions");

            migrationBuilder.DropIndex(
                name: "IX_identity_accounts_DeleteAfter",
                table: "identity_accounts");

            migrationBuilder.DropColumn(
                name: "Purpose",
                table: "identity_magic_links");

            migrationBuilder.DropColumn(
                name: "DeleteAfter",
                table: "identity_accounts");

            migrationBuilder.DropColumn(
                name: "DeletionRequestedAt",
                table: "identity_accounts");

            migrationBuilder.DropColumn(
                name: "DisplayName",
                table: "identity_accounts");
        }
    }
}
