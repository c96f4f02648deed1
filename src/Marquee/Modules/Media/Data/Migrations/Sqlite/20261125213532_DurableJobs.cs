using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Media.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class DurableJobs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "Attempts",
                table: "media_assets",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<bool>(
                name: "CancelRequested",
                table: "media_assets",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<long>(
                name: "LeaseExpiresAt",
                table: "media_assets",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "LeaseOwner",
                table: "media_assets",
                type: "TEXT",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "NotBefore",
                table: "media_assets",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Priority",
                table: "media_assets",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<long>(
                name: "ProgressAt",
                table: "media_assets",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "ProgressFps",
                table: "media_assets",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "ProgressPercent",
                table: "media_assets",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "ProgressRemainingMs",
                table: "media_assets",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "ProgressSpeed",
                table: "media_assets",
                type: "REAL",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_media_assets_State_Priority_CreatedAt",
                table: "media_assets",
                columns: new[] { "State", "Priority", "CreatedAt" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_media_assets_State_Priority_CreatedAt",
                table: "media_assets");

            migrationBuilder.DropColumn(
                name: "Attempts",
                table: "media_assets");

            migrationBuilder.DropColumn(
                name: "CancelRequested",
                table: "media_assets");

            migrationBuilder.DropColumn(
                name: "LeaseExpiresAt",
                table: "media_assets");

            migrationBuilder.DropColumn(
                name: "LeaseOwner",
                table: "media_assets");

            migrationBuilder.DropColumn(
                name: "NotBefore",
                table: "media_assets");

            migrationBuilder.DropColumn(
                name: "Priority",
                table: "media_assets");

            migrationBuilder.DropColumn(
                name: "ProgressAt",
                table: "media_assets");

            migrationBuilder.DropColumn(
                name: "ProgressFps",
                table: "media_assets");

            migrationBuilder.DropColumn(
                name: "ProgressPercent",
                table: "media_assets");

            migrationBuilder.DropColumn(
                name: "ProgressRemainingMs",
                table: "media_assets");

            migrationBuilder.DropColumn(
                name: "ProgressSpeed",
                table: "media_assets");
        }
    }
}
